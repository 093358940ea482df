"""Segments after dbt builds them: their definitions from the manifest and the membership history."""
