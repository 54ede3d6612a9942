// Feed stage: connections, snapshots, reconnects, the feed agent.
