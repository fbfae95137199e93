"""Answer sets shared by the tests."""

ODD_ANSWERS = {
    "project_name": "Taxi Élan Duration 2",
    "description": "Durée d'une course <en minutes> & plus: {braces} [brackets]",
    "author_name": "Zoë O'Brien-Łukasiewicz",
    "author_email": "zoe+taxi@example.org",
    "package_name": "ride_time",
    "python_version": "3.13",
}
