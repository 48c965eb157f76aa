#!/bin/bash
# ExecStartPre of ironside.service: reads the database credentials and the API token
# from Secrets Manager into /run/ironside/env (mode 0600), so no secret is ever in the
# user data, the config file or the logs.
set -Eeuo pipefail
# shellcheck source=/dev/null
. /etc/ironside/host.env
umask 077
install -d -m 0700 /run/ironside
/opt/ironside/venv/bin/python - <<'PY' >/run/ironside/env.tmp
import json, os, urllib.parse
import boto3

client = boto3.client("secretsmanager", region_name=os.environ["IRONSIDE_REGION"])
db = json.loads(client.get_secret_value(SecretId=os.environ["IRONSIDE_DATABASE_SECRET_ARN"])["SecretString"])
token = client.get_secret_value(SecretId=os.environ["IRONSIDE_API_TOKEN_SECRET_ARN"])["SecretString"]
user = urllib.parse.quote(db["username"], safe="")
password = urllib.parse.quote(db["password"], safe="")
url = (
    f"mysql+pymysql://{user}:{password}@{db['host']}:{db['port']}/{db.get('dbname', 'ironside')}"
    "?ssl_ca=/etc/ironside/rds-ca.pem&ssl_check_hostname=true"
)
print(f"IRONSIDE_DATABASE_URL={url}")
print(f"IRONSIDE_SERVER_TOKEN={token}")
PY
mv /run/ironside/env.tmp /run/ironside/env
