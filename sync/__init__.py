"""Warehouse-native TikTok Custom Audience sync."""

__version__ = "0.1.0"
