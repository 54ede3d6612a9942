// Sockets on io_uring carrying WebSocket connections.
