import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while starting up: nothing was done
    sys.stderr.write("error: interrupted\n")
    sys.exit(130)

main()
