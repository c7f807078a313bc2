"""Live runtime (``visemes.runtime``): audio sources, streaming analysis and network sinks.

``sources`` yields audio blocks as they arrive (a file at real-time pace, raw
PCM on stdin); ``analyser`` runs the causal network and poses the rig frame by
frame; ``sinks`` sends frames out (a WebSocket server with the live monitor
page); ``live`` is the loop that joins them (``visemes live``).
"""
