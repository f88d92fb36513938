"""Incident notes: staff say what is wrong and when it was fixed; the public status page shows them."""
