"""The adapter over miniwdl's ``WDL`` package: load, inputs, values, stdlib.

Importing it applies ``grammar`` (WDL's version-aware keywords, on-disk parsers, 1.2 hints),
``lenient`` (Object, Cromwell's lenient access) and ``placeholders`` (1.2's None rule).
"""

from ironside.wdl import grammar, lenient, placeholders

grammar.install()
lenient.install()
placeholders.install()
