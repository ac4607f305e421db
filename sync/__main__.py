"""`python -m sync` is the same CLI as `tiktok-sync`."""

from sync.cli import main

if __name__ == "__main__":
    main()
