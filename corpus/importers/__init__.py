"""Importers: external annotated corpora into the project's article + Label Studio task format."""
