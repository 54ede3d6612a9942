// Venue message decoders, the instrument table and L2 books.
