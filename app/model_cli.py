"""`flask --app app models list|add|promote|retrain`: the model store and the champion from the command line."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
from flask import current_app, g
from flask.cli import AppGroup

from app.config import APP_DIR
from app.errors import InvalidInput, ServiceUnavailable
from app.model_store import ModelStore, StoreError
from app.monitoring.comparison import describe, paired_comparison
from app.services import services_of

models_cli = AppGroup("models", help="Model versions: list them, add one, promote one, retrain a challenger.")
DEFAULT_CSV = APP_DIR.parent / "downloadData" / "data" / "GSPC_data.csv"


def _services():
    services = services_of()
    if services.lineup is None:
        raise click.ClickException(f"no model is loaded: {services.model_problem()}")
    g.close_registry = True  # the command's registry is closed when it ends
    return services


@models_cli.command("list")
def list_command():
    """Print every version with its role, test evaluation and production figures (as GET /models)."""
    from app.models_report import models_report

    services = _services()
    click.echo(json.dumps(models_report(services.lineup, services.registry.get(), services.lineup.store), indent=2))


@models_cli.command("add")
@click.argument("artifact", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--csv", "training_csv", type=click.Path(exists=True, dir_okay=False),
              help="the CSV the model was trained on: keeps its training returns for the drift watch")
@click.option("--default", "make_default", is_flag=True,
              help="also make it the store's default champion (what a fresh registry serves)")
def add_command(artifact, training_csv, make_default):
    """Copy a trained ARTIFACT folder (e.g. one train_lstm wrote) into the store as a new version."""
    store = ModelStore(current_app.config["MODEL_STORE"])
    try:
        version = store.add(artifact, training_csv)
        if make_default:
            store.set_default_champion(version)
    except (StoreError, InvalidInput) as exc:
        raise click.ClickException(getattr(exc, "message", str(exc))) from None
    click.echo(f"added {version} to {store.root}" + (" as the default champion" if make_default else
                                                      "; it shadows the champion once the servers reload"))


@models_cli.command("promote")
@click.argument("version")
@click.option("--force", is_flag=True, help="promote even if it did worse than the champion")
def promote_command(version, force):
    """Make VERSION the champion of every server sharing this registry, if it did at least as well."""
    from app.promotion import PromotionRefused, promote

    try:
        result = promote(_services(), version, gated=True, force=force)
    except PromotionRefused as exc:
        click.echo(describe(exc.comparison))
        raise click.ClickException(str(exc)) from None
    except (InvalidInput, ServiceUnavailable) as exc:
        raise click.ClickException(exc.message) from None
    if not result["changed"]:
        click.echo(f"{version} is already the champion")
        return
    click.echo(describe(result["comparison"]))
    forced = " (forced past: " + "; ".join(result["gate_reasons"]) + ")" if result["forced"] else ""
    click.echo(f"{version} is now the champion (was {result['previous']}){forced}; "
               f"`flask --app app models promote {result['previous']}` rolls back")


@models_cli.command("retrain")
@click.option("--csv", default=str(DEFAULT_CSV), show_default=True, type=click.Path(exists=True, dir_okay=False),
              help="price history to train on")
@click.option("--last-years", type=float, default=10.0, show_default=True, help="train on the last N years only")
@click.option("--epochs", type=int, help="maximum epochs (training's default when left out)")
@click.option("--window", type=int, help="input window in trading days (training's default when left out)")
@click.option("--units", type=int, help="LSTM units (training's default when left out)")
def retrain_command(csv, last_years, epochs, window, units):
    """Train on recent data, add the model as a challenger and compare it with the champion (needs TensorFlow)."""
    from modelTraining import compare
    from modelTraining.train_lstm import TrainConfig, train

    services = _services()
    store = services.lineup.store
    overrides = {k: v for k, v in {"epochs": epochs, "window": window, "units": units}.items() if v is not None}
    with tempfile.TemporaryDirectory(prefix="retrain-") as folder:
        try:
            train(TrainConfig(csv=csv, out=str(Path(folder) / "model"), last_years=last_years, **overrides))
            version = store.add(Path(folder) / "model", csv)
        except (StoreError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        except InvalidInput as exc:
            raise click.ClickException(f"{csv}: {exc.message}") from None
    new = services.lineup.ensure_loaded(version)
    champion = services.lineup.current().champion
    click.echo(f"\nadded challenger {version} to {store.root}")
    click.echo(compare.describe(compare.on_test_part(new, [champion], csv)))
    registry = services.registry.get()
    if registry is not None:
        click.echo(describe(paired_comparison(registry, champion.version, version)))
    click.echo("It shadows the champion once the servers reload (kill -HUP <gunicorn master pid>); promote it with "
               f"`flask --app app models promote {version}` when its validated forecasts beat the champion's.")
