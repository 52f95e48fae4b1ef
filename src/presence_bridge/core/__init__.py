"""The pure core: status model, command grammar, time expressions, emoji, mapping rules
and the sync planner.

Nothing in this package performs I/O or imports a network, database or chat library;
a test enforces that.
"""
