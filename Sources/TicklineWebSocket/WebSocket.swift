// RFC 6455 framing and handshake, independent of the transport.
