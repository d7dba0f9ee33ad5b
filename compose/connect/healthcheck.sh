#!/usr/bin/env bash
# Kafka Connect healthcheck (compose/connect/Dockerfile, docker-compose.yml service `connect`):
# the REST API answers and every connector/converter class the CDC pipeline configures is loaded.
set -euo pipefail

port="${CONNECT_REST_PORT:-8083}"
plugins="$(curl -fsS --max-time 10 "http://localhost:${port}/connector-plugins?connectorsOnly=false")"

missing=0
for cls in \
    io.confluent.connect.oracle.cdc.OracleCdcSourceConnector \
    com.cdcplane.redis.RedisJsonSinkConnector \
    com.redis.kafka.connect.RedisSinkConnector \
    io.debezium.connector.oracle.OracleConnector \
    io.confluent.connect.avro.AvroConverter; do
  if ! grep -qF "\"${cls}\"" <<< "${plugins}"; then
    echo "plugin not loaded: ${cls}"
    missing=1
  fi
done
exit "${missing}"
