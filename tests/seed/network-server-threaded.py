# The seed assignment's multi-threaded server (AAP12, section 4), as its author wrote it.
# Changed only so that tests can run it: the port is an argument (default 12345), SO_REUSEADDR,
# a thread ends when its client closes (the seed looped on b"" forever, the leak its author
# notes in section 5), and threads are daemons so the process can be stopped.
import socket #Import socket module
import sys
import threading

s = socket.socket() #Create a socket Object
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
host = '' #unspecified ip - all interfaces on host
port = int(sys.argv[1]) if len(sys.argv) > 1 else 12345 #Reserve a port for your service
s.bind((host, port)) #Bind to the port
s.listen(5)

def new_client(client, connection):
    ip = connection[0]
    port = connection[1]
    print(f"the new connection was made from IP : {ip}, and port: {port}!", flush=True)
    while True:
        msg = client.recv(1024)
        if not msg:
            return
        print(f"The client with Port:{port} said: {msg.decode()}", flush=True)
        reply = f"You told me: {msg.decode()}"
        client.sendall(reply.encode("UTF8"))

while True:
    client, ip = s.accept()
    threading.Thread(target=new_client, args=(client, ip), daemon=True).start()
