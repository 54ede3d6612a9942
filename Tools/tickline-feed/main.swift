// tickline-feed: a WebSocket replay server (see README in this folder).
print("tickline-feed: not built yet")
