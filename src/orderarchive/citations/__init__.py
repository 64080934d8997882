"""Quotations, briefs, citations and evidence against the signed text."""
