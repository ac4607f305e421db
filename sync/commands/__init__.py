"""The commands of `tiktok-sync`, one module per group, registered on one Typer app."""
