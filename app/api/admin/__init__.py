"""The platform operator's API (scope `admin`). A tenant is named in the path here."""
