"""One cog per event family (like the seed bot's): each turns discord.py events into envelope events."""
