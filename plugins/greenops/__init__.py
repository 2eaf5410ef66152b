"""GreenOps: what AI inference really costs in energy, carbon and money.

The package Airflow imports from ``plugins/`` (on Airflow's path) and the tests import directly:
``sources`` parse each input into Arrow, ``warehouse`` loads partitions atomically, ``ingest`` holds
the functions the DAG tasks call, ``demo`` generates a synthetic fleet, ``cli`` is the operator's entry.
"""

__version__ = "0.1.0"
