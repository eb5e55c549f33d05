"""The provider audit: one variant through several providers, paired item by item against a reference."""
