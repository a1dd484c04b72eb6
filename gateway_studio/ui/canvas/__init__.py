"""The node canvas: a QGraphicsScene of node, port, wire and backdrop items over a grid,
shown by a QGraphicsView with zoom around the cursor, pan and framing."""
