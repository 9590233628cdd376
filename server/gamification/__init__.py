"""gamification"""
