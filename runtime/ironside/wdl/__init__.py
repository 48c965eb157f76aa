"""The adapter over miniwdl's ``WDL`` package: load, inputs, values, stdlib."""
