"""Evidence: what the citation check stands on. Claims split from a draft (`claims`), the
sources' passages indexed for them (`citations`), the LLM judge of support (`judge`), and
the defence against instructions hidden in web text (`untrusted`).

Part of the pipeline; may import what the pipeline may (`generation.research`, `blog`'s
markdown and links, the foundation).
"""
