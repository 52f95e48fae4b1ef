"""Linking chat identities to Nextcloud users, and acting as linked users in Nextcloud.

* :mod:`.user_clients`: per-user Nextcloud clients built from stored credentials.
* :mod:`.service`: Login Flow v2 linking (polling in :mod:`.pending`), linking with a
  known app password, unlinking ("forget me"), and purging users who are gone (:mod:`.purge`).
* :mod:`.mapping_rule`: implicit Matrix links made from a template (:mod:`.matrix_template`).
* :mod:`.csv_import`: bulk import of identity pairs.
* :mod:`.link_table`: the table ``presence-bridge links`` prints.
"""
