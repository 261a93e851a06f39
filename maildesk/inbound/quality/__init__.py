"""Request quality as pure text analysis: the subject's verdict, the fields a request
carries (version, company, phone, …), the signals of type and criticality, the language.

Nothing here knows of drafts, tickets or mail: strings and attachments in, values out.
"""
