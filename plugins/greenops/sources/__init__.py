"""One module per source system: find what is new, parse it to Arrow. No Airflow imports here."""
