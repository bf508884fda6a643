from regmail.cli import app

app()
