"""Linking chat identities to Nextcloud users, and acting as linked users in Nextcloud.

* :mod:`.user_clients`: per-user Nextcloud clients built from stored credentials.
* :mod:`.service`: Login Flow v2 linking, unlinking ("forget me") and purging users who are gone.
* :mod:`.mapping_rule`: implicit Matrix links made from a template.
* :mod:`.csv_import`: bulk import of identity pairs.
"""
