"""The adapter over miniwdl's ``WDL`` package: load, inputs, values, stdlib.

Importing it applies ``grammar``: WDL's version-aware keywords and on-disk parsers.
"""

from ironside.wdl import grammar

grammar.install()
