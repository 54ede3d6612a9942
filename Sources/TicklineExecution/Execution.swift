// Order state machine, paper venue and post-trade exits.
