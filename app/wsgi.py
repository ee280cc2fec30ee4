"""WSGI entry point for gunicorn: `gunicorn -c app/gunicorn_conf.py` loads `app.wsgi:app`."""
from app import create_app

app = create_app()
