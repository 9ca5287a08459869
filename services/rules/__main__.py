"""python -m services.rules worker -l info  — a rules worker (Faust's own command line)."""

from services.rules.app import app

if __name__ == "__main__":
    app.main()
