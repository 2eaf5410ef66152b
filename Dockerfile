# The image docker-compose.yml runs: Airflow 3 (slim, so no provider pins fight dbt-bigquery's)
# plus our pinned requirements. The project itself is mounted, not copied, so edits need no rebuild.
FROM apache/airflow:slim-3.3.2-python3.11
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt "psycopg2-binary==2.9.*"
