"""Backends run rendered task scripts: ``local`` as processes, ``aws_batch`` as Batch jobs."""
