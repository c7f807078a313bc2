"""visemes"""
