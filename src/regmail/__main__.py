from regmail.cli import main

main()
