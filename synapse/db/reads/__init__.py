"""Read models and lookups the entry points need, as SQL in one place: plain dataclasses out.

``access`` (who may log in to what, API tokens), ``rules`` (rule rows and versions for the editor),
``ledger`` (the transactions browser). The member screens (profile, leaderboard) are
``synapse.services.profile``, shared by the dashboard API and the slash commands.
"""
