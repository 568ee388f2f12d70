# prepaid-gateway: one image for the gateway, the billing API, migrations and the simulators.
#   docker build -t prepaid-gateway .
#   docker run --rm -v "$PWD/deploy/gateway.yaml:/etc/prepaid-gateway/gateway.yaml:ro" prepaid-gateway
# docker-compose.yml runs the whole stack; docs/operations.md says what was and was not run.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway/ gateway/
COPY drivers/ drivers/
COPY simulators/ simulators/
COPY api/ api/
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels/ /tmp/wheels/
RUN pip install /tmp/wheels/*.whl && rm -rf /tmp/wheels \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/prepaid-gateway \
       --create-home --shell /usr/sbin/nologin gateway
COPY deploy/entrypoint.sh /usr/local/bin/prepaid-gateway-entrypoint
COPY deploy/gateway.yaml /etc/prepaid-gateway/gateway.yaml
RUN chmod 0755 /usr/local/bin/prepaid-gateway-entrypoint

USER gateway
WORKDIR /var/lib/prepaid-gateway
# 9464: the gateway's /metrics, /health, /ready; 8000: the billing API; 5020: simulated meters
EXPOSE 9464 8000 5020

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/health', timeout=4)"]

ENTRYPOINT ["prepaid-gateway-entrypoint"]
CMD ["prepaid-gateway", "run", "--config", "/etc/prepaid-gateway/gateway.yaml"]
