"""The browser playground: a page on the real ganforge trainer (`ganforge lab`)."""
