"""asn-kompetensi: serving."""
