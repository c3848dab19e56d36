"""Sources: the plugin manager, hook specs, the payload cache, HTTP and built-in sources.

Kept light: importing this package imports nothing heavy; the plugin manager, the cache
and the sources are imported from their modules when they are used.
"""
