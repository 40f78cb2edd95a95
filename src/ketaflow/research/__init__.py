"""The de-identified research export (HIPAA Safe Harbor): the director's page, the
``ketaflow research export`` command, and the files they write. The rules are in
``ketaflow.clinical.deidentify``."""
