# The seed assignment's line client (AAP12, section 2), as its author wrote it. Changed only so
# that tests can point it at any port: an optional port argument (default 12345, as in the seed).
import socket
import sys

host = "127.0.0.1"
port = int(sys.argv[1]) if len(sys.argv) > 1 else 12345

# s = socket.socket() 'Create a socket object
# s.connect((host, port)) #Connect to remote TCP service

# or more modern variant tries IPV4 and IPV6, multiple addresses

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.connect((host, port))
    while True:
        eingabe = input("Eingabe: ")
        if (eingabe == ""):
            break
        s.sendall(eingabe.encode("UTF8"))
        bytes = s.recv(1024)
        print("Response from server:", bytes.decode("UTF8")) #decode and output received data

        if (eingabe == "quit"):
            s.close()
