"""The build, one stage per module in the order the data flows.

``sources`` (fetch, parse, harmonize and validate of each source) -> ``derive`` -> ``analyze``
-> ``store``; ``reuse`` keeps step outputs between builds, ``report`` is what a build says
about itself, ``orchestrator`` runs them and ``strategies`` decides where the pieces run
(in this process, on Dask, out of core). Lower layers never import this package.
"""
