"""`python -m audiogan_training ...` == `audiogan train ...` (for torchrun)."""
from audiogan_core.cli import AudioGANGroup  # noqa: F401  (same error handling)

from .cli import train


def main():
    import sys

    from audiogan_core.errors import AudioGANError

    try:
        train.main(standalone_mode=False)
    except AudioGANError as exc:
        print(f"audiogan: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
