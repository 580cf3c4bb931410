"""`python -m audiogan_training ...` == `audiogan train ...` (for torchrun):
    torchrun --nproc_per_node 2 -m audiogan_training --data FOLDER --out RUN --device cpu
Errors are one line on stderr with `audiogan train`'s exit codes (2 usage/bad input, 130 Ctrl-C)."""
from .cli import train


def main(argv=None) -> None:
    import sys

    import click

    from audiogan_core.errors import AudioGANError

    try:
        train.main(args=argv, prog_name="python -m audiogan_training", standalone_mode=False)
    except AudioGANError as exc:
        print(f"audiogan: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:  # --help
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: missing/invalid options
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        print("audiogan: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
