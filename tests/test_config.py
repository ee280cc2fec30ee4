"""Settings are checked when the app starts, and a bad value names its environment variable."""
import pytest

from app import create_app
from app.config import ConfigError, settings_from_env


@pytest.mark.parametrize(("environ", "fragment"), [
    ({"VALIDATION_PRICE_SOURCE": "offlne"}, "VALIDATION_PRICE_SOURCE='offlne' must be one of auto, uploaded"),
    ({"MAX_UPLOAD_MB": "ten"}, "MAX_UPLOAD_MB='ten' is not a number"),
    ({"MAX_UPLOAD_MB": "-1"}, "MAX_UPLOAD_MB='-1' must be at least"),
    ({"PORT": "80.5"}, "PORT='80.5' is not a whole number"),
    ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY='0' must be at least 1"),
    ({"DEGRADATION_WINDOW_DAYS": "a week"}, "DEGRADATION_WINDOW_DAYS='a week' is not a whole number"),
])
def test_a_bad_environment_value_is_refused_naming_the_variable(environ, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        settings_from_env(environ)


def test_the_app_refuses_to_start_with_a_bad_setting(monkeypatch):
    monkeypatch.setenv("VALIDATION_PRICE_SOURCE", "offlne")
    with pytest.raises(ConfigError, match="VALIDATION_PRICE_SOURCE"):
        create_app({"TESTING": True})


def test_overrides_are_checked_too(tmp_path):
    with pytest.raises(ConfigError, match="VALIDATION_PRICE_SOURCE='online'"):
        create_app({"TESTING": True, "VALIDATION_PRICE_SOURCE": "online"})


def test_values_are_parsed_and_the_upload_limit_derived_once(tmp_path):
    settings = settings_from_env({"VALIDATION_PRICE_SOURCE": " Uploaded", "MAX_UPLOAD_MB": "2.5", "PORT": "8000"})
    assert settings["VALIDATION_PRICE_SOURCE"] == "uploaded" and settings["PORT"] == 8000
    assert "MAX_CONTENT_LENGTH" not in settings  # derived by the app from MAX_UPLOAD_MB, in one place
    app = create_app({"TESTING": True, "MAX_UPLOAD_MB": "2.5", "REGISTRY_PATH": str(tmp_path / "r.sqlite3"),
                      "DATABASE_URL": ""})
    assert app.config["MAX_CONTENT_LENGTH"] == int(2.5 * 1024 * 1024)
    from app.services import services_of

    services_of(app).registry.close()
