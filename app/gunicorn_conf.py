"""The one gunicorn configuration, used by `make run`, the tests that start a server and the Docker image."""
from app.config import settings_from_env

_settings = settings_from_env()

wsgi_app = "app.wsgi:app"
bind = f"{_settings['HOST']}:{_settings['PORT']}"
workers = _settings["WEB_CONCURRENCY"]
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = "info"
# Each worker loads the model itself at start-up (never per request); nothing is shared before fork.
preload_app = False
