"""Live runtime (``visemes.runtime``): audio sources, streaming analysis and network sinks.

The package is reserved in the one ``visemes`` namespace so that live code
ships beside the core; its sources, analyser and sinks build on the core's
tracks, rigs and curves.
"""
